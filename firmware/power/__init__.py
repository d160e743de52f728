"""Power: the power table, management and runtime prediction of the camera."""
