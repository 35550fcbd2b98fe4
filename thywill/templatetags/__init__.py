"""Template tags of thywill: ``{% load thywill %}``."""
