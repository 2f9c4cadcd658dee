"""wavewire.protos"""
