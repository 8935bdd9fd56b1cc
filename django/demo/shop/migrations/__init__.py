# django/demo/shop/migrations: the shop's tables (0001) and their registration with dumper (0002).
