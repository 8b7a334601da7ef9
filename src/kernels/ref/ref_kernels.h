// The scalar reference kernel table.
#pragma once

#include "kernels/isa.h"

namespace gemrun::kernels {
const IsaKernels& RefKernels();
}
