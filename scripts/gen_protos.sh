#!/bin/sh
# Regenerate wavewire/protos/*_pb2.py from the .proto sources beside them.
#
# Needs grpcio-tools (the `dev` extra). The generated modules are checked in and are
# used only by tests and tools: the serializers' hot path has its own small proto3
# codec (wavewire/serializers/_proto.py), so runtime protobuf versions do not matter
# there. File names are registered relative to the repository root
# ("wavewire/protos/frames.proto"), which keeps them apart from Pipecat's own
# "frames.proto" in the default descriptor pool.
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
python -m grpc_tools.protoc --proto_path=. --python_out=. \
    wavewire/protos/packet.proto wavewire/protos/frames.proto
echo "regenerated: wavewire/protos/packet_pb2.py wavewire/protos/frames_pb2.py"
