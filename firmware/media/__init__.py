"""Media pipeline: pre-record ring, segmenter and MPEG-TS muxer."""
