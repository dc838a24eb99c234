"""dissem.store"""
