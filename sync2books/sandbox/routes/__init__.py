"""The sandbox's routes, one router a resource; ``build_app`` includes them in the order the contract lists them."""
