"""Texts the question views open on."""

HAMLET = (
    "HAMLET:\nTo be, or not to be, that is the question:\nWhether 'tis nobler in the mind to "
    "suffer\nThe slings and arrows of outrageous fortune,\nOr to take arms against a sea of "
    "troubles,\nAnd by opposing end them? To die: to sleep;\nNo more; and by a sleep to say we "
    "end\nThe heart-ache and the thousand natural shocks\nThat flesh is heir to, 'tis a "
    "consummation\nDevoutly to be wish'd. To die, to sleep;\nTo sleep: perchance to dream: ay, "
    "there's the rub;\nFor in that sleep of death what dreams may come\nWhen we have shuffled off "
    "this mortal coil,\nMust give us pause: there's the respect\nThat makes calamity of so long "
    "life;\n"
)
