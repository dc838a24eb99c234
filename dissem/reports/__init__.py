"""dissem.reports"""
