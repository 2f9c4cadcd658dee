"""wavewire.audio"""
