"""spasmwatch simulator: synthetic EMG with ground truth, and the virtual device."""
