# django/demo/demo: the demo project's configuration package (settings, URLs, WSGI).
