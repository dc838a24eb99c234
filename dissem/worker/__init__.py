"""dissem.worker"""
