"""405 answers list every method the path serves (Starlette names only the first route)."""


async def test_405_lists_every_method_of_the_path(client) -> None:
    response = await client.request("OPTIONS", "/v1/users")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
