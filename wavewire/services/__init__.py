"""wavewire.services"""
