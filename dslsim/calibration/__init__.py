"""Silicon calibration and validation: fit a core's cycle costs and run current to bench measurements
(:mod:`dslsim.calibration.fit`), and check the whole simulator against measurements it was not fitted on
(:mod:`dslsim.calibration.validate`)."""
