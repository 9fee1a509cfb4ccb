/// What every layer uses (errors, JSON, atomic files, progress, interruption, suggestions) lives in
/// JouleCore, below the tensors; whoever imports Tensor sees it too. Modules that need none of the
/// tensors (sweeps, notebooks' files, TensorBoard) import JouleCore alone.
@_exported import JouleCore
