"""Device behaviour: state machine, controller, gestures, display renderer, feedback, audit log."""
