"""Faces of vectorhouse for other frameworks, each over the same ``Collection`` code.

Each module needs its framework installed (an extra, e.g. ``vectorhouse[langchain]``);
importing ``vectorhouse`` loads none of them.

>>> import vectorhouse.integrations
>>> vectorhouse.integrations.__name__
'vectorhouse.integrations'
"""
