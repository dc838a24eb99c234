"""dissem.platforms"""
