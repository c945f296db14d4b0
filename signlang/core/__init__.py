"""The bottom layer: errors, atomic files, the keypoint layout, video decoding and the console.

Every other package may import from here; nothing here imports from the rest of signlang.
"""
