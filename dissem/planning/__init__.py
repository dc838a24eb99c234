"""dissem.planning"""
