// Engine header stand-in: everything is in UnrealMock.h.
#pragma once
#include "UnrealMock.h"
