"""What an instance tells ops about itself: metrics (and, later, traces and logs)."""
