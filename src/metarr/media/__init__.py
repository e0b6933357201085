"""Media file inspection: stream probing of video and audio files."""
