"""wavewire.testing"""
