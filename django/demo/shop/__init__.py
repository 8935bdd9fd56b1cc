# django/demo/shop: the seed's ice creams and sizes, with pages dumper keeps fresh.
