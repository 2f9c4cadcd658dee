"""wavewire.transports"""
