# django/demo/shop/management: the shop's manage.py commands.
