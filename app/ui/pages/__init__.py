"""UI-only routes (hidden from OpenAPI), one module per area; each module exposes `router`."""
