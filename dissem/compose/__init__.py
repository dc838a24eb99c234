"""dissem.compose"""
