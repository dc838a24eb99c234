"""dissem.sandbox"""
