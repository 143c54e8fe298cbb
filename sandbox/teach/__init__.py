"""Teaching: lessons and interview cards (format and loader), stepping through a lesson, a learner's progress."""
