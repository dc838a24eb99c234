"""dissem.metrics"""
