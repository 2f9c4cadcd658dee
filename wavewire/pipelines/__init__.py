"""wavewire.pipelines"""
