# django/demo/shop/management/commands: demo_data.
