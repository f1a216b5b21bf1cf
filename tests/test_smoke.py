def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_institution_list_as_admin(client, make):
    make.institution("ZZA", name="Zed College")
    _, headers = make.signed_in()
    response = client.get("/institutions", params={"q": "zed"}, headers=headers)
    assert response.status_code == 200
    assert [i["code"] for i in response.json()["data"]] == ["ZZA"]
