"""Graph stores: one protocol (base.py), interchangeable backends, chosen by URL (factory.py)."""
