"""wavewire.serializers"""
