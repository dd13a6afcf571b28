"""
Questionnaires: the model, the loader of C{ivr_scripts/*.yaml}, the pure flow the IVR
runner and the interviewer desktop walk, and prompt rendering/building.
"""
