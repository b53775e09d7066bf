"""Risk errors: none of its own yet.

A bad sanctions list file is operator input to `fiscus sanctions load`, never an API
answer, so it is reported as the core `ValidationProblem` naming each bad line. (Every
DomainError subclass must be a problem type some route documents; an error class only the
CLI raises would be a type no client can meet.) A route of this module that needs a precise
problem type adds its class here.
"""
