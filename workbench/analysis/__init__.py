"""Who was called and reached, who needs support, which services were used, who can help.

Each module reads the store through the analysis snapshot (`store.snapshot`) and the one set of
filter rules (`store.filters`), and every list of people it returns has passed `privacy.optouts`.
"""
