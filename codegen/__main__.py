"""`python -m codegen` runs the wrapgen command line."""

from codegen.launch import main

main()
