"""wavewire.bots"""
