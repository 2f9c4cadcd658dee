"""wavewire: real-time voice agents."""
