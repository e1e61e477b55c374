"""Images and video frames as stored media.

Does: validates and stores images content-addressed by sha256 (images.py), draws region boxes in red
on a derived copy, samples 8 frames from a video with PyAV (video.py), serves stored images (views.py).
Reads: uploaded or imported bytes. Writes: Image rows and files through Django's storage.
"""
