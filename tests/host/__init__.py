"""The HOST origin of the browser tests and the benchmark: the product's own server half
(`meshes_bridge.fastapi.MeshesBridge` over `EmbedService`, minting through the real
`MeshesClient` against the fake Meshes API), with the test pages, the asset tree and fault
injection wrapped around the real endpoints."""
