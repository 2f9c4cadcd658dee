"""wavewire.processors"""
