"""Sites built for a purpose from the model: the demo, the detector's labelled freeze suite,
and the patch, health-check and recovery scenarios the tests and the CLI serve."""
