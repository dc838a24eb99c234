"""dissem.config"""
