"""Cities (real coordinates) and great-circle distances."""

from __future__ import annotations

import numpy as np

#: (name, latitude, longitude, relative population weight)
CITIES: tuple[tuple[str, float, float, float], ...] = (
    ("New York", 40.7128, -74.0060, 10),
    ("Los Angeles", 34.0522, -118.2437, 7),
    ("Chicago", 41.8781, -87.6298, 5),
    ("Houston", 29.7604, -95.3698, 4),
    ("Miami", 25.7617, -80.1918, 3),
    ("Seattle", 47.6062, -122.3321, 3),
    ("Toronto", 43.6532, -79.3832, 4),
    ("Mexico City", 19.4326, -99.1332, 5),
    ("Sao Paulo", -23.5505, -46.6333, 5),
    ("Buenos Aires", -34.6037, -58.3816, 3),
    ("London", 51.5074, -0.1278, 8),
    ("Paris", 48.8566, 2.3522, 6),
    ("Berlin", 52.5200, 13.4050, 4),
    ("Madrid", 40.4168, -3.7038, 4),
    ("Rome", 41.9028, 12.4964, 3),
    ("Amsterdam", 52.3676, 4.9041, 2),
    ("Stockholm", 59.3293, 18.0686, 2),
    ("Warsaw", 52.2297, 21.0122, 2),
    ("Istanbul", 41.0082, 28.9784, 4),
    ("Cairo", 30.0444, 31.2357, 3),
    ("Lagos", 6.5244, 3.3792, 3),
    ("Johannesburg", -26.2041, 28.0473, 2),
    ("Nairobi", -1.2921, 36.8219, 2),
    ("Dubai", 25.2048, 55.2708, 3),
    ("Mumbai", 19.0760, 72.8777, 5),
    ("Delhi", 28.7041, 77.1025, 5),
    ("Singapore", 1.3521, 103.8198, 3),
    ("Hong Kong", 22.3193, 114.1694, 3),
    ("Shanghai", 31.2304, 121.4737, 5),
    ("Tokyo", 35.6762, 139.6503, 7),
    ("Seoul", 37.5665, 126.9780, 4),
    ("Sydney", -33.8688, 151.2093, 3),
)
CITY_NAMES: tuple[str, ...] = tuple(c[0] for c in CITIES)
CITY_LAT = np.array([c[1] for c in CITIES])
CITY_LON = np.array([c[2] for c in CITIES])
CITY_WEIGHT = np.array([c[3] for c in CITIES], dtype=float) / sum(c[3] for c in CITIES)

EARTH_RADIUS_KM = 6371.0088


def haversine_km(
    lat1: np.ndarray | float, lon1: np.ndarray | float, lat2: np.ndarray | float, lon2: np.ndarray | float
) -> np.ndarray:
    """Great-circle distance in km (vectorised)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def city_distance_matrix() -> np.ndarray:
    """``(n_cities, n_cities)`` distances in km."""
    return haversine_km(CITY_LAT[:, None], CITY_LON[:, None], CITY_LAT[None, :], CITY_LON[None, :])
