"""What both services' HTTP clients share and neither service owns: the retry shell, exact-decimal JSON, error bases.

It knows no service: each client (``sync2books.client``, ``codat.client``) names its service, its retry rules and
its own typed errors.
"""
